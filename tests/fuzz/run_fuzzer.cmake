# Runs a libFuzzer binary for a ctest (cmake -P), leaving the source tree untouched.
#   FUZZER  the fuzzer binary
#   MODE    run: fuzz a fresh copy of the seed directories in WORK/corpus
#           replay: run every file of the seed directories once
#   SEEDS   seed directories (;-separated); README* and dot files are skipped
#   WORK    scratch directory (recreated); crash artifacts land in WORK/artifacts/
#   ARGS    extra libFuzzer flags (;-separated)

file(REMOVE_RECURSE ${WORK})
file(MAKE_DIRECTORY ${WORK}/artifacts)
set(inputs)
foreach(dir ${SEEDS})
  file(GLOB files LIST_DIRECTORIES false ${dir}/*)
  foreach(f ${files})
    get_filename_component(name ${f} NAME)
    if(NOT name MATCHES "^(README|\\.)")
      list(APPEND inputs ${f})
    endif()
  endforeach()
endforeach()
if(NOT inputs)
  message(FATAL_ERROR "no inputs in ${SEEDS}")
endif()

if(MODE STREQUAL "run")
  file(MAKE_DIRECTORY ${WORK}/corpus)
  file(COPY ${inputs} DESTINATION ${WORK}/corpus)
  set(command ${FUZZER} ${ARGS} -artifact_prefix=${WORK}/artifacts/ ${WORK}/corpus)
elseif(MODE STREQUAL "replay")
  # Files as arguments: each is executed once, nothing is written.
  set(command ${FUZZER} ${ARGS} -artifact_prefix=${WORK}/artifacts/ ${inputs})
else()
  message(FATAL_ERROR "MODE must be run or replay")
endif()

execute_process(COMMAND ${command} WORKING_DIRECTORY ${WORK} RESULT_VARIABLE result)
if(NOT result EQUAL 0)
  message(FATAL_ERROR "${FUZZER} failed (${result}); reproducers in ${WORK}/artifacts/")
endif()
