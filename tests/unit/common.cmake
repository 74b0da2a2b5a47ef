podprof_test(test_common SOURCES ${CMAKE_CURRENT_LIST_DIR}/common.c LABEL unit)
podprof_test(test_options SOURCES ${CMAKE_CURRENT_LIST_DIR}/options.c
             LIBS podprof_agent LABEL unit)
