podprof_test(test_heap_accuracy SOURCES ${CMAKE_CURRENT_LIST_DIR}/heap_accuracy.c
             LIBS podprof_profiler LABEL integration GO_PROGRAMS TIMEOUT 600)
podprof_test(test_node_role SOURCES ${CMAKE_CURRENT_LIST_DIR}/node_role.c
             LIBS podprof_profiler LABEL integration GO_PROGRAMS TIMEOUT 600)
podprof_test(test_corrupt_binaries SOURCES ${CMAKE_CURRENT_LIST_DIR}/corrupt_binaries.c
             LIBS podprof_profiler LABEL integration GO_PROGRAMS TIMEOUT 600)
podprof_test(test_heap_bounds SOURCES ${CMAKE_CURRENT_LIST_DIR}/heap_bounds.c
             LIBS podprof_profiler LABEL integration GO_PROGRAMS TIMEOUT 600)
