# Turns one SPIR-V binary into a C source holding it as a uint32_t array.
# Invoked as: cmake -DSPV=in.spv -DOUT=out.c -DNAME=symbol -P embed_spirv.cmake
file(READ "${SPV}" hex HEX)
string(LENGTH "${hex}" hex_len)
math(EXPR rem "${hex_len} % 8")
if(hex_len EQUAL 0 OR NOT rem EQUAL 0)
  message(FATAL_ERROR "${SPV}: not a SPIR-V binary (${hex_len} hex digits)")
endif()
# SPIR-V words are little-endian on disk; rebuild each word from its 4 bytes.
string(REGEX REPLACE "(..)(..)(..)(..)" "0x\\4\\3\\2\\1u," words "${hex}")
string(REGEX REPLACE "((0x[0-9a-f]+u,){8})" "\\1\n  " words "${words}")
math(EXPR count "${hex_len} / 8")
file(WRITE "${OUT}" "/* Generated from ${SPV}; do not edit. */\n#include <stddef.h>\n#include <stdint.h>\n"
  "const uint32_t ${NAME}[${count}] = {\n  ${words}\n};\n"
  "const size_t ${NAME}_words = ${count};\n")
