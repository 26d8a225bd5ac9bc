/* The public agent API: argument checks and forwarding to src/rl. */
#include <stdlib.h>

#include "rl/agent.h"
#include "rl/checkpoint.h"
#include "rl/shards.h"
#include "vksac.h"

#define VKSAC_API __attribute__((visibility("default")))

struct vksac_agent {
    vksac_context *ctx;
    rl_agent *rl;
};

/* The runtime context behind a public context (src/api/context.c). */
vks_ctx *vksac_context_vk(vksac_context *ctx);

static vksac_status need_agent(vksac_agent *agent, const char *fn)
{
    if (!agent)
        return VKSAC_E_ARG;
    if (!agent->rl)
        return vks_fail(vksac_context_vk(agent->ctx), VKSAC_E_STATE, "%s: the agent is not usable", fn);
    return VKSAC_OK;
}

VKSAC_API vksac_status vksac_agent_create(vksac_context *ctx, const vksac_agent_config *config, vksac_agent **out)
{
    if (!ctx || !out)
        return VKSAC_E_ARG;
    *out = NULL;
    vks_ctx *vk = vksac_context_vk(ctx);
    vksac_agent_config cfg;
    VKS_TRY(rl_agent_resolve(vk, "vksac_agent_create", config, &cfg));
    vksac_agent *agent = calloc(1, sizeof *agent);
    if (!agent)
        return vks_fail(vk, VKSAC_E_OOM, "out of host memory for an agent");
    agent->ctx = ctx;
    vksac_status st = rl_agent_create_sharded(vk, &cfg, &agent->rl);
    if (st != VKSAC_OK) {
        free(agent);
        return st;
    }
    *out = agent;
    return VKSAC_OK;
}

VKSAC_API void vksac_agent_destroy(vksac_agent *agent)
{
    if (!agent)
        return;
    rl_agent_destroy(agent->rl);
    free(agent);
}

VKSAC_API vksac_status vksac_agent_config_get(const vksac_agent *agent, vksac_agent_config *out)
{
    if (!agent || !agent->rl || !out)
        return VKSAC_E_ARG;
    *out = agent->rl->cfg;
    return VKSAC_OK;
}

VKSAC_API vksac_status vksac_agent_act(vksac_agent *agent, const float *states, uint32_t n, int sample,
                                       float *cont_actions, int32_t *discrete, float *cont_logprob,
                                       float *discrete_logprob)
{
    VKS_TRY(need_agent(agent, "vksac_agent_act"));
    return rl_agent_act(agent->rl, states, n, sample, cont_actions, discrete, cont_logprob, discrete_logprob);
}

VKSAC_API vksac_status vksac_agent_observe(vksac_agent *agent, const vksac_transitions *t)
{
    VKS_TRY(need_agent(agent, "vksac_agent_observe"));
    return rl_agent_observe(agent->rl, t);
}

VKSAC_API vksac_status vksac_agent_update(vksac_agent *agent, uint32_t n)
{
    VKS_TRY(need_agent(agent, "vksac_agent_update"));
    return rl_agent_update(agent->rl, n);
}

VKSAC_API vksac_status vksac_agent_update_batch(vksac_agent *agent, const vksac_transitions *batch)
{
    VKS_TRY(need_agent(agent, "vksac_agent_update_batch"));
    return rl_agent_update_batch(agent->rl, batch);
}

VKSAC_API vksac_status vksac_agent_stats(vksac_agent *agent, vksac_stats *out)
{
    VKS_TRY(need_agent(agent, "vksac_agent_stats"));
    if (!out)
        return vks_fail(vksac_context_vk(agent->ctx), VKSAC_E_ARG, "vksac_agent_stats: out must not be NULL");
    return rl_agent_stats(agent->rl, out);
}

VKSAC_API vksac_status vksac_agent_config_resolve(vksac_context *ctx, const vksac_agent_config *config,
                                                  vksac_agent_config *out)
{
    if (!ctx)
        return VKSAC_E_ARG;
    if (!out)
        return vks_fail(vksac_context_vk(ctx), VKSAC_E_ARG, "vksac_agent_config_resolve: out must not be NULL");
    return rl_agent_resolve(vksac_context_vk(ctx), "vksac_agent_config_resolve", config, out);
}

VKSAC_API vksac_status vksac_agent_q(vksac_agent *agent, const float *states, const float *cont_actions,
                                     uint32_t n, float *q)
{
    VKS_TRY(need_agent(agent, "vksac_agent_q"));
    return rl_agent_q(agent->rl, states, cont_actions, n, q);
}

VKSAC_API vksac_status vksac_agent_save(vksac_agent *agent, const char *path)
{
    VKS_TRY(need_agent(agent, "vksac_agent_save"));
    return rl_checkpoint_save(agent->rl, path, true);
}

VKSAC_API vksac_status vksac_agent_save_with(vksac_agent *agent, const char *path,
                                             const vksac_save_options *options)
{
    VKS_TRY(need_agent(agent, options ? "vksac_agent_save_with" : "vksac_agent_save"));
    return rl_checkpoint_save_with(agent->rl, path, options);
}

VKSAC_API const char *vksac_agent_metadata(const vksac_agent *agent)
{
    return agent && agent->rl && agent->rl->metadata ? agent->rl->metadata : "";
}

VKSAC_API vksac_status vksac_agent_export_policy(vksac_agent *agent, const char *path)
{
    VKS_TRY(need_agent(agent, "vksac_agent_export_policy"));
    return rl_checkpoint_save(agent->rl, path, false);
}

VKSAC_API vksac_status vksac_agent_load(vksac_context *ctx, const char *path, vksac_agent **out)
{
    if (!ctx || !out)
        return VKSAC_E_ARG;
    *out = NULL;
    vksac_agent *agent = calloc(1, sizeof *agent);
    vks_ctx *vk = vksac_context_vk(ctx);
    if (!agent)
        return vks_fail(vk, VKSAC_E_OOM, "out of host memory for an agent");
    agent->ctx = ctx;
    vksac_status st = rl_checkpoint_load(vk, path, &agent->rl);
    if (st != VKSAC_OK) {
        free(agent);
        return st;
    }
    *out = agent;
    return VKSAC_OK;
}
