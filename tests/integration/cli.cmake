podprof_test(test_cli SOURCES ${CMAKE_CURRENT_LIST_DIR}/cli.c LABEL integration)
