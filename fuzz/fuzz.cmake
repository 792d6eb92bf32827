# fuzz/fuzz.cmake - included by the CMakeLists.txt that define libFuzzer
# targets (with -DMEMSYNC_FUZZ=ON and clang).
#
# memsync_fuzz_target(NAME SOURCE LIBS...): a libFuzzer executable in
# <build>/fuzz/, and a dependency of the memsync_fuzz target, which
# fuzz/run-fuzz.sh builds before it runs every target in <build>/fuzz/.
function(memsync_fuzz_target name source)
  add_executable(${name} ${source})
  target_link_libraries(${name} PRIVATE ${ARGN})
  target_compile_options(${name} PRIVATE -fsanitize=fuzzer)
  target_link_options(${name} PRIVATE -fsanitize=fuzzer)
  set_target_properties(${name} PROPERTIES RUNTIME_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR}/fuzz)
  if(NOT TARGET memsync_fuzz)
    add_custom_target(memsync_fuzz)
  endif()
  add_dependencies(memsync_fuzz ${name})
endfunction()
