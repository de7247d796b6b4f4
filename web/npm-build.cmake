# Runs from web/CMakeLists.txt: installs the locked packages when node_modules is missing or
# older than package-lock.json, then bundles the dashboard into OUT_DIR.
# Inputs: NPM, SRC_DIR, OUT_DIR.
set(installed ${SRC_DIR}/node_modules/.package-lock.json)
if(NOT EXISTS ${installed} OR ${SRC_DIR}/package-lock.json IS_NEWER_THAN ${installed})
  message(STATUS "web: npm ci")
  execute_process(COMMAND ${NPM} ci --no-audit --no-fund --ignore-scripts
                  WORKING_DIRECTORY ${SRC_DIR} RESULT_VARIABLE rc)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "web: npm ci failed (${rc})")
  endif()
endif()
execute_process(COMMAND ${NPM} run --silent build -- --outdir=${OUT_DIR}
                WORKING_DIRECTORY ${SRC_DIR} RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "web: npm run build failed (${rc})")
endif()
