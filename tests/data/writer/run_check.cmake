# Write a dataset with mkds, then let LanceDB read it and compare.
file(REMOVE_RECURSE ${DIR})
file(MAKE_DIRECTORY ${DIR})
execute_process(COMMAND ${MKDS} ${DIR} ${MINOR} ${ROWS} ${MODE}
                RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "mkds failed (${rc})")
endif()
if(NOT NODE)
  message(FATAL_ERROR "node not found")
endif()
execute_process(COMMAND ${NODE} ${SCRIPT} ${DIR} ${DIR}.expected.json
                RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "LanceDB disagrees with the writer (${rc})")
endif()
