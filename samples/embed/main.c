/* embed: a game loop that learns, on top of vksac's public C API.
 *
 * Every frame, like a game engine's frame loop:
 *   1. one vksac_agent_act for all agents at once (sampled actions),
 *   2. the game advances one step,
 *   3. one vksac_agent_observe with every agent's transition,
 *   4. as many vksac_agent_update as fit in what is left of the frame's
 *      time budget (0 when the frame is already late).
 * At the end the trained policy plays deterministically and is compared
 * with a random and a zero policy on the same fresh game.
 *
 * Build against an installed vksac: see Makefile and README.md. */
#define _POSIX_C_SOURCE 200809L /* clock_gettime with -std=c17 */

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <vksac.h>

#include "game.h"

/* Frames of each evaluation, and the salt that makes its game differ from
 * the training game while staying the same for every policy compared. */
#define EVAL_FRAMES 500
#define EVAL_SEED_SALT 0x5eedull
/* Updates start once the buffer holds a few batches, so that the first
 * batches are not the same handful of transitions over and over. */
#define LEARNING_STARTS_BATCHES 4
/* At most this many updates per observed transition: on a fast GPU the
 * budget would allow far more, and many updates on little data overfit. */
#define MAX_UPDATES_PER_TRANSITION 1
/* Per frame without an update, the update time estimate shrinks by this. */
#define ESTIMATE_DECAY 0.98
#define PROGRESS_LINES 20

typedef struct options {
    uint32_t frames, agents;
    double budget_ms;
    uint64_t seed;
    const char *device, *save;
    int quiet, validation;
} options;

/* What the training loop carries from frame to frame. */
typedef struct trainer {
    vksac_context *ctx;
    vksac_agent *agent;
    game world;
    float *states, *next_states, *actions, *rewards;
    uint8_t *terminated;
    uint32_t batch_size;
    uint64_t observed, updates;
    double update_ms; /* running estimate of one update; 0 until measured */
} trainer;

/* Totals since the last progress line. */
typedef struct window {
    double reward;
    uint64_t steps, targets, updates;
} window;

typedef enum policy { POLICY_TRAINED, POLICY_RANDOM, POLICY_ZERO } policy;

typedef struct score {
    double reward_per_step, targets_per_agent;
} score;

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec * 1e-6;
}

/* Reports a failed vksac call with the library's own message, which most
 * often names the call already. */
static int fail(const vksac_context *ctx, const char *call)
{
    const char *message = vksac_error(ctx);
    if (!strncmp(message, call, strlen(call)))
        fprintf(stderr, "embed: %s\n", message);
    else
        fprintf(stderr, "embed: %s: %s\n", call, message);
    return -1;
}

/* The library never prints; warnings and validation messages come here. */
static void log_message(void *user, vksac_log_level level, const char *message)
{
    (void)user;
    if (level >= VKSAC_LOG_WARN)
        fprintf(stderr, "vksac: %s\n", message);
}

/* ---- options ----------------------------------------------------------- */

static void usage(void)
{
    printf("usage: embed [--frames N] [--agents N] [--budget-ms X] [--seed S] [--device D]\n"
           "             [--save PATH] [--validation] [--quiet]\n"
           "  --frames N      frames to train [5000]\n"
           "  --agents N      agents acting in one batch per frame [8]\n"
           "  --budget-ms X   time budget of one frame; updates fill what is left [16]\n"
           "  --seed S        seed of the game and the agent [1]\n"
           "  --device D      Vulkan device: index or name substring [VKSAC_DEVICE, then the best]\n"
           "  --save PATH     save a checkpoint at the end\n"
           "  --validation    enable the Vulkan validation layer; any message fails the run\n"
           "  --quiet         print the final summary only\n");
}

static int parse_u64(const char *s, uint64_t max, uint64_t *out)
{
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || end == s || *end || s[0] == '-' || v > max)
        return -1;
    *out = v;
    return 0;
}

static int parse_ms(const char *s, double *out)
{
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || end == s || *end || !(v >= 0 && v <= 1e6))
        return -1;
    *out = v;
    return 0;
}

/* Parses one option taking a value; returns -1 on a bad value. */
static int parse_value(options *o, const char *name, const char *value)
{
    uint64_t v;
    if (!strcmp(name, "--frames") || !strcmp(name, "--agents")) {
        if (parse_u64(value, 1u << 24, &v) || v == 0)
            return -1;
        *(!strcmp(name, "--frames") ? &o->frames : &o->agents) = (uint32_t)v;
        return 0;
    }
    if (!strcmp(name, "--seed"))
        return parse_u64(value, UINT64_MAX, &o->seed);
    if (!strcmp(name, "--budget-ms"))
        return parse_ms(value, &o->budget_ms);
    if (!strcmp(name, "--device"))
        o->device = value;
    else
        o->save = value; /* --save: the caller only passes known names */
    return 0;
}

/* Returns 0, 1 for --help, or -1 on a usage error (message printed). */
static int parse_options(int argc, char **argv, options *o)
{
    static const char *const with_value[] = {"--frames", "--agents", "--budget-ms", "--seed", "--device",
                                             "--save"};
    *o = (options){.frames = 5000, .agents = 8, .budget_ms = 16.0, .seed = 1};
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--help") || !strcmp(a, "-h"))
            return 1;
        if (!strcmp(a, "--quiet") || !strcmp(a, "--validation")) {
            *(a[2] == 'q' ? &o->quiet : &o->validation) = 1;
            continue;
        }
        size_t k = 0, count = sizeof with_value / sizeof *with_value;
        while (k < count && strcmp(a, with_value[k]))
            k++;
        if (k == count) {
            fprintf(stderr, "embed: unknown option '%s'\n", a);
            return -1;
        }
        if (i + 1 == argc || parse_value(o, a, argv[i + 1])) {
            fprintf(stderr, "embed: %s needs a valid value%s%s\n", a, i + 1 < argc ? ", got " : "",
                    i + 1 < argc ? argv[i + 1] : "");
            return -1;
        }
        i++;
    }
    return 0;
}

/* ---- the agent ----------------------------------------------------------- */

/* Small networks and batches: the game is simple, and on a CPU (lavapipe)
 * the time of one update decides how much the agents learn per second
 * (hidden 32, batch 64: ~4 ms per update there, against ~12 ms at 64 and
 * 128; three times as many updates learn this game sooner). */
static vksac_agent_config agent_config(uint64_t seed)
{
    vksac_agent_config c = {.dim_state = GAME_DIM_STATE, .num_cont_actions = GAME_DIM_ACTION, .seed = seed};
    c.actor.dim_hidden = c.critic.dim_hidden = 32;
    c.actor.mlp_depth = c.critic.mlp_depth = 1;
    c.actor.learning_rate = c.critic.learning_rate = 1e-3f;
    c.temperature_learning_rate = 1e-3f;
    /* α = 0.1 from the start: rewards are a few tenths per frame at most,
     * and at α = 1 the entropy bonus would drown them for thousands of
     * updates. */
    c.initial_log_alpha = -2.3f;
    c.batch_size = 64;
    c.replay_capacity = 200000;
    /* A shorter horizon than 0.99: a trained body reaches a target every
     * ~20 frames. */
    c.reward_discount_rate = 0.97f;
    return c;
}

static int create_agent(trainer *t, uint64_t seed)
{
    vksac_agent_config c = agent_config(seed);
    if (vksac_agent_create(t->ctx, &c, &t->agent) != VKSAC_OK)
        return fail(t->ctx, "vksac_agent_create");
    vksac_agent_config resolved;
    if (vksac_agent_config_get(t->agent, &resolved) != VKSAC_OK)
        return fail(t->ctx, "vksac_agent_config_get");
    t->batch_size = resolved.batch_size;
    return 0;
}

/* ---- training ------------------------------------------------------------ */

static int alloc_buffers(trainer *t, uint32_t n)
{
    t->states = malloc(sizeof(float) * n * GAME_DIM_STATE);
    t->next_states = malloc(sizeof(float) * n * GAME_DIM_STATE);
    t->actions = malloc(sizeof(float) * n * GAME_DIM_ACTION);
    t->rewards = malloc(sizeof(float) * n);
    t->terminated = calloc(n, 1); /* a continuing game: never terminal */
    if (!t->states || !t->next_states || !t->actions || !t->rewards || !t->terminated) {
        fprintf(stderr, "embed: out of memory\n");
        return -1;
    }
    return 0;
}

static void free_buffers(trainer *t)
{
    free(t->states);
    free(t->next_states);
    free(t->actions);
    free(t->rewards);
    free(t->terminated);
}

/* Runs k updates in one call (one submit) and refines the time estimate. */
static int run_updates(trainer *t, uint32_t k, int timed)
{
    double start = now_ms();
    if (vksac_agent_update(t->agent, k) != VKSAC_OK)
        return fail(t->ctx, "vksac_agent_update");
    double per_update = (now_ms() - start) / k;
    if (timed)
        t->update_ms = t->update_ms > 0 ? 0.9 * t->update_ms + 0.1 * per_update : per_update;
    t->updates += k;
    return 0;
}

/* Spends what is left of the frame's budget on updates. */
static int learn(trainer *t, const options *o, double frame_start, window *w)
{
    if (t->observed < (uint64_t)LEARNING_STARTS_BATCHES * t->batch_size)
        return 0;
    uint64_t before = t->updates;
    if (t->updates == 0) {
        /* The first update compiles the pipelines: far slower than the
         * rest, so it is not timed. The second one is, alone. */
        if (run_updates(t, 1, 0))
            return -1;
    } else if (t->update_ms <= 0) {
        if (run_updates(t, 1, 1))
            return -1;
    } else {
        double left = o->budget_ms - (now_ms() - frame_start);
        double fit = left > 0 ? left / t->update_ms : 0;
        uint32_t max = o->agents * MAX_UPDATES_PER_TRANSITION;
        uint32_t k = fit >= max ? max : (uint32_t)fit;
        if (k > 0 && run_updates(t, k, 1))
            return -1;
        /* An estimate that leaves no room for an update is never measured
         * again: let it shrink, so that a slow spell (another process on
         * the CPU) does not stop learning for good. */
        if (k == 0 && left > 0)
            t->update_ms *= ESTIMATE_DECAY;
    }
    w->updates += t->updates - before;
    return 0;
}

/* One frame: act for every agent in one batch, step, observe, learn. */
static int frame(trainer *t, const options *o, window *w)
{
    double start = now_ms();
    uint32_t n = o->agents;
    if (vksac_agent_act(t->agent, t->states, n, 1, t->actions, NULL, NULL, NULL) != VKSAC_OK)
        return fail(t->ctx, "vksac_agent_act");
    w->targets += game_step(&t->world, t->actions, t->rewards);
    game_observe(&t->world, t->next_states);
    vksac_transitions tr = {.n = n, .states = t->states, .cont_actions = t->actions, .rewards = t->rewards,
                            .terminated = t->terminated, .next_states = t->next_states};
    if (vksac_agent_observe(t->agent, &tr) != VKSAC_OK)
        return fail(t->ctx, "vksac_agent_observe");
    t->observed += n;
    for (uint32_t i = 0; i < n; i++)
        w->reward += t->rewards[i];
    w->steps += n;
    /* The next frame starts where this one ended. */
    float *swap = t->states;
    t->states = t->next_states;
    t->next_states = swap;
    return learn(t, o, start, w);
}

static int print_progress(trainer *t, uint32_t f, const window *w, double frame_ms)
{
    vksac_stats st;
    if (vksac_agent_stats(t->agent, &st) != VKSAC_OK)
        return fail(t->ctx, "vksac_agent_stats");
    printf("frame %6" PRIu32 "  reward/step %7.3f  targets %4" PRIu64 "  updates %4" PRIu64 " (total %6" PRIu64
           ", %.2f ms each)  alpha %.4f  frame %.1f ms\n",
           f, w->steps ? w->reward / (double)w->steps : 0.0, w->targets, w->updates, t->updates, t->update_ms,
           st.alpha, frame_ms);
    fflush(stdout);
    return 0;
}

static int train(trainer *t, const options *o)
{
    uint32_t every = o->frames / PROGRESS_LINES ? o->frames / PROGRESS_LINES : 1;
    window w = {0};
    double window_start = now_ms();
    game_observe(&t->world, t->states);
    for (uint32_t f = 1; f <= o->frames; f++) {
        if (frame(t, o, &w))
            return -1;
        if (f % every == 0 || f == o->frames) {
            double frame_ms = (now_ms() - window_start) / (double)(w.steps / o->agents);
            if (!o->quiet && print_progress(t, f, &w, frame_ms))
                return -1;
            w = (window){0};
            window_start = now_ms();
        }
    }
    return 0;
}

/* ---- evaluation ------------------------------------------------------------ */

static int choose_actions(trainer *t, policy p, game_rng *rng, const float *states, float *actions,
                          uint32_t n)
{
    if (p == POLICY_TRAINED) {
        if (vksac_agent_act(t->agent, states, n, 0, actions, NULL, NULL, NULL) != VKSAC_OK)
            return fail(t->ctx, "vksac_agent_act");
        return 0;
    }
    for (uint32_t i = 0; i < n * GAME_DIM_ACTION; i++)
        actions[i] = p == POLICY_RANDOM ? 2.0f * game_rng_uniform(rng) - 1.0f : 0.0f;
    return 0;
}

/* Plays EVAL_FRAMES frames of a fresh game, the same game for every
 * policy, without learning. The random policy draws from a generator of
 * its own, so that the game's targets do not depend on the policy. */
static int evaluate(trainer *t, const options *o, policy p, score *out)
{
    uint32_t n = o->agents;
    game g;
    game_rng policy_rng = {~(o->seed ^ EVAL_SEED_SALT)};
    if (game_init(&g, n, o->seed ^ EVAL_SEED_SALT)) {
        fprintf(stderr, "embed: out of memory\n");
        return -1;
    }
    double reward = 0;
    uint64_t targets = 0;
    for (uint32_t f = 0; f < EVAL_FRAMES; f++) {
        game_observe(&g, t->states);
        if (choose_actions(t, p, &policy_rng, t->states, t->actions, n)) {
            game_free(&g);
            return -1;
        }
        targets += game_step(&g, t->actions, t->rewards);
        for (uint32_t i = 0; i < n; i++)
            reward += t->rewards[i];
    }
    game_free(&g);
    out->reward_per_step = reward / ((double)EVAL_FRAMES * n);
    out->targets_per_agent = (double)targets / n;
    return 0;
}

/* One line that scripts can grep: the trained policy against the others.
 * A better reward alone is not learning (creeping toward the targets beats
 * random and zero), so "learned" also asks for more targets than random. */
static void print_summary(const trainer *t, const options *o, double seconds, const score s[3])
{
    const score *trained = &s[POLICY_TRAINED], *random = &s[POLICY_RANDOM], *zero = &s[POLICY_ZERO];
    int learned = trained->reward_per_step > random->reward_per_step &&
                  trained->reward_per_step > zero->reward_per_step &&
                  trained->targets_per_agent > random->targets_per_agent;
    printf("summary: frames %" PRIu32 ", updates %" PRIu64 ", %.1f s of training; "
           "reward/step trained %.3f, random %.3f, zero %.3f; targets/agent trained %.1f, random %.1f; %s\n",
           o->frames, t->updates, seconds, trained->reward_per_step, random->reward_per_step,
           zero->reward_per_step, trained->targets_per_agent, random->targets_per_agent,
           learned ? "learned" : "not learned yet");
}

static int evaluate_all(trainer *t, const options *o, double seconds)
{
    score s[3];
    for (int p = POLICY_TRAINED; p <= POLICY_ZERO; p++)
        if (evaluate(t, o, (policy)p, &s[p]))
            return -1;
    if (!o->quiet) {
        static const char *const names[] = {"trained (deterministic)", "random", "zero"};
        printf("evaluation, %d frames of a fresh game:\n", EVAL_FRAMES);
        for (int p = POLICY_TRAINED; p <= POLICY_ZERO; p++)
            printf("  %-24s reward/step %7.3f  targets per agent %6.1f\n", names[p], s[p].reward_per_step,
                   s[p].targets_per_agent);
    }
    print_summary(t, o, seconds, s);
    return 0;
}

/* ---- main ------------------------------------------------------------------ */

static int print_device(trainer *t, const options *o)
{
    vksac_device_info info;
    if (vksac_context_device(t->ctx, &info) != VKSAC_OK)
        return fail(t->ctx, "vksac_context_device");
    if (!o->quiet)
        printf("device: %s (%s); %" PRIu32 " agents, %" PRIu32 " frames, budget %.1f ms per frame\n", info.name,
               info.type, o->agents, o->frames, o->budget_ms);
    return 0;
}

static int check_validation(const trainer *t, const options *o)
{
    uint64_t messages = vksac_validation_messages(t->ctx);
    if (o->validation && messages > 0) {
        fprintf(stderr, "embed: the validation layer reported %" PRIu64 " message(s)\n", messages);
        return -1;
    }
    return 0;
}

static int run(trainer *t, const options *o)
{
    double start = now_ms();
    if (print_device(t, o) || create_agent(t, o->seed) || alloc_buffers(t, o->agents))
        return -1;
    if (game_init(&t->world, o->agents, o->seed)) {
        fprintf(stderr, "embed: out of memory\n");
        return -1;
    }
    if (train(t, o) || evaluate_all(t, o, (now_ms() - start) / 1e3))
        return -1;
    if (o->save && vksac_agent_save(t->agent, o->save) != VKSAC_OK)
        return fail(t->ctx, "vksac_agent_save");
    if (o->save && !o->quiet)
        printf("saved %s\n", o->save);
    return check_validation(t, o);
}

int main(int argc, char **argv)
{
    options o;
    int parsed = parse_options(argc, argv, &o);
    if (parsed > 0) {
        usage();
        return 0;
    }
    if (parsed < 0) {
        fprintf(stderr, "embed: --help lists the options\n");
        return 2;
    }
    vksac_context_config cc = {.device = o.device, .validation = o.validation, .log = log_message};
    trainer t = {0};
    int rc = 1;
    if (vksac_context_create(&cc, &t.ctx) != VKSAC_OK)
        fail(t.ctx, "vksac_context_create");
    else
        rc = run(&t, &o) ? 1 : 0;
    vksac_agent_destroy(t.agent);
    game_free(&t.world);
    free_buffers(&t);
    vksac_context_destroy(t.ctx);
    return rc;
}
