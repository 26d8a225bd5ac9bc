# Compiles shaders/*.comp to SPIR-V at build time and embeds each one in the
# library as a uint32_t array (vks_spv_<name>), one generated C file per
# shader, so editing one shader rebuilds only that file.
find_program(GLSLANG glslangValidator REQUIRED)
find_program(SPIRV_VAL spirv-val)

function(vksac_embed_shaders out_sources)
  set(sources)
  foreach(comp IN LISTS ARGN)
    get_filename_component(name "${comp}" NAME_WE)
    set(spv "${CMAKE_CURRENT_BINARY_DIR}/shaders/${name}.spv")
    set(dep "${CMAKE_CURRENT_BINARY_DIR}/shaders/${name}.d")
    set(csrc "${CMAKE_CURRENT_BINARY_DIR}/shaders/${name}.spv.c")
    set(validate)
    if(SPIRV_VAL)
      set(validate COMMAND "${SPIRV_VAL}" --target-env vulkan1.1 "${spv}")
    endif()
    add_custom_command(
      OUTPUT "${spv}"
      COMMAND "${GLSLANG}" --target-env vulkan1.1 --quiet -o "${spv}" --depfile "${dep}" "${comp}"
      ${validate}
      DEPENDS "${comp}"
      DEPFILE "${dep}"
      COMMENT "glslang ${name}.comp"
      VERBATIM)
    add_custom_command(
      OUTPUT "${csrc}"
      COMMAND "${CMAKE_COMMAND}" -DSPV=${spv} -DOUT=${csrc} -DNAME=vks_spv_${name}
              -P "${PROJECT_SOURCE_DIR}/cmake/embed_spirv.cmake"
      DEPENDS "${spv}" "${PROJECT_SOURCE_DIR}/cmake/embed_spirv.cmake"
      VERBATIM)
    list(APPEND sources "${csrc}")
  endforeach()
  file(MAKE_DIRECTORY "${CMAKE_CURRENT_BINARY_DIR}/shaders")
  set(${out_sources} ${sources} PARENT_SCOPE)
endfunction()
