/* Choices that depend on the driver rather than on what the device
 * offers, each measured (docs/runtime.md, "Other Mesa versions"). The CPU
 * kernels are tuned on Mesa 22.3's lavapipe (Debian 12, CI); Mesa 25's
 * (Debian 13) compiles and executes some things differently. lavapipe's
 * driverVersion says nothing (0.0.1), so the Mesa version comes from
 * driverInfo ("Mesa 25.0.7 (LLVM 15.0.6)"). Mesa 23 and 24, other CPU
 * drivers and GPUs were not measured and keep 22.3's choices. */
#include <stdlib.h>
#include <string.h>

#include "vk/internal.h"

/* The major Mesa version of an llvmpipe driver, 0 for any other driver or
 * an info string that does not start "Mesa <number>". */
static long llvmpipe_mesa_major(const char *driver, const char *driver_info)
{
    static const char mesa[] = "Mesa ";
    if (!driver || !driver_info || strcmp(driver, "llvmpipe") != 0 ||
        strncmp(driver_info, mesa, sizeof mesa - 1) != 0)
        return 0;
    return strtol(driver_info + sizeof mesa - 1, NULL, 10);
}

/* The GEMM forms whose big blocks (gemm_*_big.comp) beat the 8×8 ones.
 * Measured on lavapipe (256×512×256, one thread, GFLOP/s big vs 8×8): Mesa
 * 22.3 forward 35-36 vs 16-20, dX 37 vs 25, dW 38-39 vs 29-30; Mesa 25.0,
 * whose llvmpipe calls a function for every texel load, forward 13 vs
 * 23-24, dX 26-28 vs 23-25, dW 22 vs 27. (GPUs run the tiled GEMM unless told
 * otherwise.) */
uint32_t vks_big_gemm_forms(const char *driver, const char *driver_info)
{
    const uint32_t all = VKS_GEMM_FWD | VKS_GEMM_DX | VKS_GEMM_DW;
    return llvmpipe_mesa_major(driver, driver_info) >= 25 ? VKS_GEMM_DX : all;
}

/* Whether to bind operands with VK_KHR_push_descriptor where it is offered
 * rather than with descriptor sets written at record time (every
 * recording here is replayed, so sets cost nothing per replay). Mesa 25's
 * lavapipe maps and unmaps a page for each pushed set every time a
 * recording runs: 8.0 µs per dispatch on the queue thread against 0.5
 * with sets (Mesa 22.3: 0.7 either way). */
bool vks_prefer_push_descriptors(const char *driver, const char *driver_info)
{
    return llvmpipe_mesa_major(driver, driver_info) < 25;
}
