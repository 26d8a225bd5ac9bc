/* Devices, the public context API, the driver-dependent kernel choice and
 * the validation hooks every device test relies on. */
#include "harness.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vk/internal.h"

/* ---- devices and the public API ----------------------------------------- */

static void test_list_devices(void **state)
{
    (void)state;
    char err[256] = "";
    int count = -1;
    assert_int_equal(vksac_list_devices(NULL, 0, &count, err, sizeof err), VKSAC_OK);
    assert_true(count >= 1);
    vksac_device_info *info = calloc((size_t)count, sizeof *info);
    assert_non_null(info);
    int again = -1;
    assert_int_equal(vksac_list_devices(info, count, &again, err, sizeof err), VKSAC_OK);
    assert_int_equal(again, count);
    int preferred = 0;
    for (int i = 0; i < count; i++) {
        assert_true(info[i].name[0] != '\0');
        assert_true(info[i].type[0] != '\0');
        assert_int_equal(info[i].index, i);
        preferred += info[i].preferred != 0;
    }
    assert_int_equal(preferred, 1);

    /* The context runs on one of them. */
    vksac_device_info mine;
    TH_OK(vks_ctx_device(th.ctx, &mine));
    assert_true(mine.index >= 0 && mine.index < count);
    assert_string_equal(mine.name, info[mine.index].name);
    free(info);
}

/* The choices per driver (src/vk/tuning.c): 32×16 GEMM blocks for every
 * form and push descriptors where offered, except on lavapipe from Mesa
 * 25: big blocks for dX only, and descriptor sets. */
static void test_driver_tuning(void **state)
{
    (void)state;
    static const struct {
        const char *driver, *info;
        bool mesa25;
    } cases[] = {
        {"llvmpipe", "Mesa 22.3.6 (LLVM 15.0.6)", false},
        {"llvmpipe", "Mesa 24.2.8-1 (LLVM 17.0.6)", false},
        {"llvmpipe", "Mesa 25.0.7-2~bpo12+1 (LLVM 15.0.6)", true},
        {"llvmpipe", "Mesa 26.1.0-devel", true},
        {"llvmpipe", "Mesa 25", true},
        {"llvmpipe", "Mesa", false},
        {"llvmpipe", "", false},
        {"llvmpipe", "unknown build", false},
        {"llvmpipe", NULL, false},
        {"unknown", "Mesa 25.0.7", false},
        {"NVIDIA", "575.57.08", false},
        {NULL, NULL, false},
    };
    const uint32_t all = VKS_GEMM_FWD | VKS_GEMM_DX | VKS_GEMM_DW;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const char *d = cases[i].driver, *info = cases[i].info;
        if (vks_big_gemm_forms(d, info) != (cases[i].mesa25 ? VKS_GEMM_DX : all) ||
            vks_prefer_push_descriptors(d, info) == cases[i].mesa25)
            fail_msg("driver \"%s\", info \"%s\": big forms %u, push descriptors %d", d ? d : "(null)",
                     info ? info : "(null)", vks_big_gemm_forms(d, info), vks_prefer_push_descriptors(d, info));
    }

    /* The context made its choices from its own device's strings. */
    vksac_device_info mine;
    TH_OK(vks_ctx_device(th.ctx, &mine));
    assert_int_equal(th.ctx->big_gemm_forms, vks_big_gemm_forms(mine.driver, mine.driver_version));
    assert_true(th.ctx->big_gemm_forms & VKS_GEMM_DX);
    bool push = mine.push_descriptors && !th.opts.no_push_descriptors &&
                vks_prefer_push_descriptors(mine.driver, mine.driver_version);
    assert_int_equal(th.ctx->push_descriptors, push);
}

/* The device can be named by index or by a case-insensitive substring. */
static void test_device_selection(void **state)
{
    (void)state;
    vksac_device_info mine;
    TH_OK(vks_ctx_device(th.ctx, &mine));
    char index[16], sub[8] = "";
    snprintf(index, sizeof index, "%d", mine.index);
    /* A few leading characters of the name, case flipped. */
    for (size_t i = 0; i < 4 && mine.name[i]; i++) {
        char c = mine.name[i];
        sub[i] = (c >= 'a' && c <= 'z') ? (char)(c - 32) : (c >= 'A' && c <= 'Z') ? (char)(c + 32) : c;
    }
    const char *names[] = {index, sub};
    for (size_t i = 0; i < 2; i++) {
        vks_ctx *ctx = NULL;
        vksac_status s = th_ctx_create(NULL, names[i], &ctx);
        if (s != VKSAC_OK)
            print_error("device \"%s\": %s\n", names[i], ctx ? vks_ctx_error(ctx) : "");
        assert_int_equal(s, VKSAC_OK);
        vksac_device_info got;
        assert_int_equal(vks_ctx_device(ctx, &got), VKSAC_OK);
        assert_string_equal(got.name, mine.name);
        assert_int_equal(vks_ctx_validation_messages(ctx), 0);
        vks_ctx_destroy(ctx);
    }
}

static void test_no_such_device(void **state)
{
    (void)state;
    static const char *names[] = {"no-such-device-9f3a", "9999"};
    for (size_t i = 0; i < 2; i++) {
        vks_ctx *ctx = NULL;
        assert_int_equal(th_ctx_create(NULL, names[i], &ctx), VKSAC_E_NO_DEVICE);
        /* The runtime may or may not hand back a failed context. */
        if (ctx) {
            assert_true(vks_ctx_error(ctx)[0] != '\0');
            vks_ctx_destroy(ctx);
        }

        vksac_context_config cfg = {0};
        cfg.device = names[i];
        vksac_context *pub = NULL;
        assert_int_equal(vksac_context_create(&cfg, &pub), VKSAC_E_NO_DEVICE);
        /* The public API always hands back a handle carrying the message. */
        assert_non_null(pub);
        const char *msg = vksac_error(pub);
        assert_non_null(msg);
        assert_true(msg[0] != '\0');
        vksac_context_destroy(pub);
    }
}

static void test_public_api(void **state)
{
    (void)state;
    const char *msg = vksac_error(NULL);
    assert_non_null(msg);
    assert_true(msg[0] != '\0');

    /* Every status has its own name. */
    for (int a = VKSAC_OK; a <= VKSAC_E_STATE; a++) {
        const char *na = vksac_status_name((vksac_status)a);
        assert_non_null(na);
        assert_true(strncmp(na, "VKSAC_", 6) == 0);
        for (int b = VKSAC_OK; b < a; b++)
            assert_string_not_equal(na, vksac_status_name((vksac_status)b));
    }

    vksac_context_config cfg = {0};
    cfg.validation = 1;
    vksac_context *ctx = NULL;
    assert_int_equal(vksac_context_create(&cfg, &ctx), VKSAC_OK);
    assert_non_null(ctx);
    assert_string_equal(vksac_error(ctx), "");
    vksac_device_info info;
    assert_int_equal(vksac_context_device(ctx, &info), VKSAC_OK);
    assert_true(info.name[0] != '\0');
    assert_true(info.usable);
    assert_int_equal(vksac_validation_messages(ctx), 0);
    vksac_context_destroy(ctx);
    vksac_context_destroy(NULL);
    assert_int_equal(vksac_context_create(NULL, NULL), VKSAC_E_ARG);
}

/* ---- the validation hook ------------------------------------------------ */

/* Proves that every test's zero-message check is live: an invalid Vulkan
 * call (a buffer with no usage bits) must be counted and logged. Uses its
 * own context so the group's context stays clean. */
static void test_validation_hook(void **state)
{
    (void)state;
    vks_ctx *ctx = NULL;
    TH_OK(th_ctx_create(&th.opts, NULL, &ctx));
    uint64_t before = vks_ctx_validation_messages(ctx);
    VkBufferCreateInfo bci = {
        .sType = VK_STRUCTURE_TYPE_BUFFER_CREATE_INFO,
        .size = 16,
        .usage = 0, /* VUID-VkBufferCreateInfo-usage-requiredbitmask */
        .sharingMode = VK_SHARING_MODE_EXCLUSIVE,
    };
    VkBuffer buffer = VK_NULL_HANDLE;
    VkResult r = vkCreateBuffer(ctx->device, &bci, NULL, &buffer);
    if (r == VK_SUCCESS && buffer != VK_NULL_HANDLE)
        vkDestroyBuffer(ctx->device, buffer, NULL);
    uint64_t after = vks_ctx_validation_messages(ctx);
    print_message("validation messages %llu -> %llu; last: %.120s\n", (unsigned long long)before,
                  (unsigned long long)after, th_last_log());
    assert_true(after >= before + 1);
    assert_non_null(strstr(th_last_log(), "usage"));
    vks_ctx_destroy(ctx);
}

/* ctest also runs every device test under synchronization validation,
 * record-time and submit-time (VK_LAYER_ENABLES, see CMakeLists.txt): that
 * is what checks the barriers between dependent kernels and between
 * replays, which lavapipe's in-order execution would hide from the results.
 * This proves both modes are live with write-after-write hazards (two fills
 * of one range, no barrier) inside one command buffer and across two
 * command buffers of one submit. Skipped when the variable is not set. */
static uint64_t fill_twice(vks_ctx *ctx, const vks_tensor *t, int separate_buffers)
{
    uint64_t before = vks_ctx_validation_messages(ctx);
    VkCommandBufferAllocateInfo ai = {.sType = VK_STRUCTURE_TYPE_COMMAND_BUFFER_ALLOCATE_INFO,
                                      .commandPool = ctx->cmd_pool,
                                      .level = VK_COMMAND_BUFFER_LEVEL_PRIMARY,
                                      .commandBufferCount = 2};
    VkCommandBuffer cmd[2];
    assert_int_equal(vkAllocateCommandBuffers(ctx->device, &ai, cmd), VK_SUCCESS);
    VkCommandBufferBeginInfo bi = {.sType = VK_STRUCTURE_TYPE_COMMAND_BUFFER_BEGIN_INFO};
    for (int i = 0; i < 2; i++) {
        VkCommandBuffer c = cmd[separate_buffers ? i : 0];
        if (i == 0 || separate_buffers)
            assert_int_equal(vkBeginCommandBuffer(c, &bi), VK_SUCCESS);
        vkCmdFillBuffer(c, t->chunk->buffer, t->offset, t->bytes, 0);
        if (i == 1 || separate_buffers)
            assert_int_equal(vkEndCommandBuffer(c), VK_SUCCESS);
    }
    VkSubmitInfo si = {.sType = VK_STRUCTURE_TYPE_SUBMIT_INFO,
                       .commandBufferCount = separate_buffers ? 2 : 1,
                       .pCommandBuffers = cmd};
    assert_int_equal(vkQueueSubmit(ctx->queue, 1, &si, VK_NULL_HANDLE), VK_SUCCESS);
    assert_int_equal(vkQueueWaitIdle(ctx->queue), VK_SUCCESS);
    vkFreeCommandBuffers(ctx->device, ctx->cmd_pool, 2, cmd);
    uint64_t after = vks_ctx_validation_messages(ctx);
    print_message("%s: validation messages %llu -> %llu; last: %.90s\n",
                  separate_buffers ? "across a submit" : "in one command buffer",
                  (unsigned long long)before, (unsigned long long)after, th_last_log());
    return after - before;
}

static void test_sync_validation_hook(void **state)
{
    (void)state;
    const char *enables = getenv("VK_LAYER_ENABLES");
    if (!enables || !strstr(enables, "SYNCHRONIZATION_VALIDATION_EXT") ||
        !strstr(enables, "SYNCHRONIZATION_VALIDATION_QUEUE_SUBMIT")) {
        print_message("VK_LAYER_ENABLES does not enable synchronization validation; skipped\n");
        skip();
    }
    vks_ctx *ctx = NULL;
    TH_OK(th_ctx_create(&th.opts, NULL, &ctx));
    vks_tensor *t = NULL;
    TH_OK(vks_tensor_create(ctx, 4, 4, &t));
    assert_true(fill_twice(ctx, t, 0) >= 1);
    assert_non_null(strstr(th_last_log(), "WRITE_AFTER_WRITE"));
    assert_true(fill_twice(ctx, t, 1) >= 1);
    assert_non_null(strstr(th_last_log(), "WRITE_AFTER_WRITE"));
    vks_tensor_destroy(t);
    vks_ctx_destroy(ctx);
}

int main(int argc, char **argv)
{
    if (th_parse_args(argc, argv, "devices") != 0)
        return 2;
    const struct CMUnitTest tests[] = {
        TH_TEST(test_list_devices),
        TH_TEST(test_driver_tuning),
        TH_TEST(test_device_selection),
        TH_TEST(test_no_such_device),
        TH_TEST(test_public_api),
        TH_TEST(test_validation_hook),
        TH_TEST(test_sync_validation_hook),
    };
    return cmocka_run_group_tests_name(th.group_name, tests, th_group_setup, th_group_teardown);
}
