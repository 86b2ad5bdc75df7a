# PvrrReplayTests.cmake - regression replay of recordings as CTest tests.
#
#   pvrr_add_replay_tests(DIRECTORY <dir> [PVRR <pvrr binary or generator expression>]
#                         [PREFIX <test name prefix, default "replay.">]
#                         [LABELS <extra CTest labels>])
#
# Registers one test per <dir>/*.pvlog running `pvrr replay --check FILE`: it passes
# when the replay is identical to the recording and fails, printing the divergence
# report, when it is not (exit 80 diverged, 81 corrupt, 82 truncated, 83 unsupported).
include_guard(GLOBAL)

function(pvrr_add_replay_tests)
  cmake_parse_arguments(A "" "DIRECTORY;PVRR;PREFIX" "LABELS" ${ARGN})
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
    add_test(NAME ${A_PREFIX}${name} COMMAND ${A_PVRR} replay --check "${log}")
    set_tests_properties(${A_PREFIX}${name} PROPERTIES LABELS "replay;${A_LABELS}" TIMEOUT 300)
  endforeach()
endfunction()
