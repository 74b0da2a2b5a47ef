podprof_test(test_profiler_parse SOURCES ${CMAKE_CURRENT_LIST_DIR}/profiler_parse.c
             LIBS podprof_profiler LABEL unit)
podprof_test(test_profiler_heap SOURCES ${CMAKE_CURRENT_LIST_DIR}/profiler_heap.c
             LIBS podprof_profiler LABEL unit)
