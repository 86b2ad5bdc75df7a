# PvrrReplayTests.cmake - regression replay of recordings as CTest tests.
#
#   pvrr_add_replay_tests(DIRECTORY <dir> [PVRR <pvrr binary or generator expression>]
#                         [PREFIX <test name prefix, default "replay.">]
#                         [LABELS <extra CTest labels>]
#                         [BACKEND <auto|kvm|emu>])
#
# Registers one test per <dir>/*.pvlog running `pvrr replay --check FILE`: it passes
# when the replay is identical to the recording and fails, printing the divergence
# report, when it is not (exit 80 diverged, 81 corrupt, 82 truncated, 83 unsupported).
# With BACKEND, the replay runs on that execution engine (`--backend`), the test is
# named <prefix><name>.<backend> and labelled with the backend; without it, pvrr
# chooses (PVRR_BACKEND, else auto: KVM where /dev/kvm works, else the emulator).
include_guard(GLOBAL)

function(pvrr_add_replay_tests)
  cmake_parse_arguments(A "" "DIRECTORY;PVRR;PREFIX;BACKEND" "LABELS" ${ARGN})
  if(NOT A_DIRECTORY)
    message(FATAL_ERROR "pvrr_add_replay_tests: DIRECTORY is required")
  endif()
  if(NOT A_PVRR)
    set(A_PVRR pvrr)
  endif()
  if(NOT DEFINED A_PREFIX)
    set(A_PREFIX "replay.")
  endif()
  file(GLOB logs CONFIGURE_DEPENDS "${A_DIRECTORY}/*.pvlog")
  foreach(log IN LISTS logs)
    get_filename_component(name "${log}" NAME_WE)
    if(A_BACKEND)
      set(test ${A_PREFIX}${name}.${A_BACKEND})
      add_test(NAME ${test} COMMAND ${A_PVRR} replay --check --backend ${A_BACKEND} "${log}")
      set_tests_properties(${test} PROPERTIES LABELS "replay;${A_BACKEND};${A_LABELS}"
                                              TIMEOUT 300)
    else()
      add_test(NAME ${A_PREFIX}${name} COMMAND ${A_PVRR} replay --check "${log}")
      set_tests_properties(${A_PREFIX}${name} PROPERTIES LABELS "replay;${A_LABELS}" TIMEOUT 300)
    endif()
  endforeach()
endfunction()
