/* A tiny 2-D arena game: n bodies, each steering toward its own target.
 *
 * Each body has a position and a velocity inside the square [-1, 1]^2 and
 * accelerates along a bounded 2-D action. Reaching the target (within
 * GAME_TARGET_RADIUS) earns a bonus and a new target appears elsewhere, so
 * the game never ends: it is a continuing task, as in most games.
 *
 * Everything random comes from the game's own generator, so a game is
 * deterministic given its seed and the actions it receives. */
#ifndef EMBED_GAME_H
#define EMBED_GAME_H

#include <stdint.h>

/* State of one body: velocity (2), vector to its target (2). */
#define GAME_DIM_STATE 4
/* Action of one body: acceleration along x and y, each in [-1, 1]. */
#define GAME_DIM_ACTION 2
#define GAME_TARGET_RADIUS 0.1f

/* splitmix64: tiny, fast and good enough for a game. */
typedef struct game_rng {
    uint64_t state;
} game_rng;

/* A uniform float in [0, 1). */
float game_rng_uniform(game_rng *rng);

typedef struct game_body {
    float pos[2], vel[2], target[2];
} game_body;

typedef struct game {
    uint32_t n;
    game_body *bodies;
    game_rng rng;
} game;

/* Places n bodies and their targets at random. Returns 0, or -1 when out
 * of memory. */
int game_init(game *g, uint32_t n, uint64_t seed);
void game_free(game *g);

/* Writes the n × GAME_DIM_STATE states, row-major. */
void game_observe(const game *g, float *states);

/* Advances every body by one frame under n × GAME_DIM_ACTION actions
 * (clamped to [-1, 1]) and writes each body's reward. Returns how many
 * bodies reached their target in this frame. */
uint32_t game_step(game *g, const float *actions, float *rewards);

#endif
