#include "game.h"

#include <math.h>
#include <stdlib.h>

/* Physics: one frame is DT seconds; the drag bounds the speed at
 * ACCEL / DRAG, so a body crosses the arena in about a second and must
 * brake to stop on its target rather than fly past it. */
#define DT 0.05f
#define ACCEL 4.0f
#define DRAG 1.0f
#define ARENA 1.0f
/* Targets spawn inside this margin and at least MIN_SPAWN_DIST away, so
 * every target takes some steering to reach. */
#define SPAWN_HALF 0.9f
#define MIN_SPAWN_DIST 0.5f

/* Reward: progress toward the target, scaled so that full speed earns
 * about 1 per frame, minus a small cost of acceleration (it discourages
 * jitter without making standing still attractive), plus a bonus. */
#define PROGRESS_SCALE 5.0f
#define CONTROL_COST 0.05f
#define TARGET_BONUS 1.0f

float game_rng_uniform(game_rng *rng)
{
    uint64_t z = (rng->state += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    z ^= z >> 31;
    return (float)(z >> 40) * (1.0f / 16777216.0f); /* the top 24 bits: exact in a float */
}

static float uniform_in(game_rng *rng, float lo, float hi)
{
    return lo + (hi - lo) * game_rng_uniform(rng);
}

static float distance_to_target(const game_body *b)
{
    return hypotf(b->target[0] - b->pos[0], b->target[1] - b->pos[1]);
}

static void spawn_target(game_rng *rng, game_body *b)
{
    /* A few tries suffice: most of the square is far enough away. */
    for (int tries = 0; tries < 16; tries++) {
        b->target[0] = uniform_in(rng, -SPAWN_HALF, SPAWN_HALF);
        b->target[1] = uniform_in(rng, -SPAWN_HALF, SPAWN_HALF);
        if (distance_to_target(b) >= MIN_SPAWN_DIST)
            return;
    }
}

int game_init(game *g, uint32_t n, uint64_t seed)
{
    g->n = n;
    g->rng.state = seed;
    g->bodies = calloc(n, sizeof *g->bodies);
    if (!g->bodies)
        return -1;
    for (uint32_t i = 0; i < n; i++) {
        game_body *b = &g->bodies[i];
        b->pos[0] = uniform_in(&g->rng, -SPAWN_HALF, SPAWN_HALF);
        b->pos[1] = uniform_in(&g->rng, -SPAWN_HALF, SPAWN_HALF);
        spawn_target(&g->rng, b);
    }
    return 0;
}

void game_free(game *g)
{
    free(g->bodies);
    g->bodies = NULL;
    g->n = 0;
}

/* What a body senses: its velocity and where its target is, relative to
 * it. Not its absolute position: targets always lie inside the walls, so
 * heading for the target never needs it, and with it the policy has to
 * learn each wall and corner apart (a body pressed against a wall stayed
 * there under the deterministic policy). */
void game_observe(const game *g, float *states)
{
    for (uint32_t i = 0; i < g->n; i++) {
        const game_body *b = &g->bodies[i];
        float *s = states + (size_t)i * GAME_DIM_STATE;
        s[0] = b->vel[0];
        s[1] = b->vel[1];
        s[2] = b->target[0] - b->pos[0];
        s[3] = b->target[1] - b->pos[1];
    }
}

static float clamp1(float x)
{
    return x < -1.0f ? -1.0f : x > 1.0f ? 1.0f : x;
}

/* Semi-implicit Euler, then the walls stop the body along the axis it hit. */
static void move_body(game_body *b, const float a[2])
{
    for (int k = 0; k < 2; k++) {
        b->vel[k] += (ACCEL * a[k] - DRAG * b->vel[k]) * DT;
        b->pos[k] += b->vel[k] * DT;
        if (b->pos[k] < -ARENA || b->pos[k] > ARENA) {
            b->pos[k] = b->pos[k] < 0 ? -ARENA : ARENA;
            b->vel[k] = 0.0f;
        }
    }
}

uint32_t game_step(game *g, const float *actions, float *rewards)
{
    uint32_t reached = 0;
    for (uint32_t i = 0; i < g->n; i++) {
        game_body *b = &g->bodies[i];
        const float a[2] = {clamp1(actions[2 * i]), clamp1(actions[2 * i + 1])};
        float before = distance_to_target(b);
        move_body(b, a);
        float after = distance_to_target(b);
        rewards[i] = PROGRESS_SCALE * (before - after) - CONTROL_COST * (a[0] * a[0] + a[1] * a[1]);
        if (after < GAME_TARGET_RADIUS) {
            rewards[i] += TARGET_BONUS;
            spawn_target(&g->rng, b);
            reached++;
        }
    }
    return reached;
}
