# Runs grove-info (GROVE_INFO) with GROVE_LOOP=ENGINE (unset when ENGINE is empty) and
# requires its output to contain WANT: exit status 0 without ENGINE, 2 (the selection error)
# with it.
if(ENGINE)
  set(ENV{GROVE_LOOP} ${ENGINE})
  set(want_status 2)
else()
  unset(ENV{GROVE_LOOP})
  set(want_status 0)
endif()
execute_process(COMMAND ${GROVE_INFO} RESULT_VARIABLE status OUTPUT_VARIABLE out
                ERROR_VARIABLE out)
string(FIND "${out}" "${WANT}" at)
if(NOT status EQUAL want_status OR at EQUAL -1)
  message(FATAL_ERROR "grove-info (GROVE_LOOP=${ENGINE}) exited ${status} (want ${want_status}) "
                      "and printed:\n${out}\nwhich should contain:\n${WANT}")
endif()
message(STATUS "ok: ${WANT}")
