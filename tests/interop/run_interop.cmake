# cmake -DMODE=check|selftest -DNODE=... -DSRC=... [-DDATA=... -DLANCEFS=...] -P run_interop.cmake
# Driver for the CTest entries in CMakeLists.txt.  Any FATAL_ERROR makes the
# test fail with that message.
if(NOT NODE OR NOT EXISTS "${NODE}")
  message(FATAL_ERROR "interop: node (Node.js >= 20) not found; install it and re-run cmake")
endif()
if(NOT EXISTS "${SRC}/node_modules/@lancedb/lancedb/package.json"
   OR NOT EXISTS "${SRC}/node_modules/apache-arrow/package.json")
  message(FATAL_ERROR "interop: ${SRC}/node_modules is missing; run `npm ci --prefix tests/interop` "
                      "from the source root (it installs the pinned @lancedb/lancedb and apache-arrow)")
endif()

function(run_node)
  execute_process(COMMAND "${NODE}" ${ARGN} WORKING_DIRECTORY "${SRC}" RESULT_VARIABLE rc)
  if(NOT rc EQUAL 0)
    string(JOIN " " cmd ${ARGN})
    message(FATAL_ERROR "interop: `node ${cmd}` failed (exit status ${rc})")
  endif()
endfunction()

if(MODE STREQUAL "selftest")
  run_node(selftest.js)
  return()
endif()

# The fixtures are made once per generator revision: the stamp holds a hash
# of everything that shapes them.
file(GLOB gen_inputs "${SRC}/make_datasets.js" "${SRC}/lib/*.js" "${SRC}/package-lock.json")
list(SORT gen_inputs)
set(fingerprint "")
foreach(f ${gen_inputs})
  file(SHA256 "${f}" h)
  string(APPEND fingerprint "${h}\n")
endforeach()
string(SHA256 fingerprint "${fingerprint}")
set(stamp "${DATA}.stamp")
set(have "")
if(EXISTS "${stamp}" AND EXISTS "${DATA}/fixtures.json")
  file(READ "${stamp}" have)
endif()
if(NOT have STREQUAL fingerprint)
  message(STATUS "interop: making fixtures in ${DATA}")
  file(REMOVE_RECURSE "${DATA}")
  file(REMOVE "${stamp}")
  run_node(make_datasets.js "${DATA}")
  file(WRITE "${stamp}" "${fingerprint}")
else()
  message(STATUS "interop: fixtures in ${DATA} are up to date")
endif()

run_node(check.js --lancefs "${LANCEFS}" --data "${DATA}")
