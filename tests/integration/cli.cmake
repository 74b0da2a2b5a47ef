podprof_test(test_cli SOURCES ${CMAKE_CURRENT_LIST_DIR}/cli.c LABEL integration)
# The suite's guard against traffic off the machine (testing.h) catches podprof.
podprof_test(test_net_guard SOURCES ${CMAKE_CURRENT_LIST_DIR}/net_guard.c LABEL integration)
