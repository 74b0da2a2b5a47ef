# The metrics registry and the agent's HTTP server.
podprof_test(test_metrics SOURCES ${CMAKE_CURRENT_LIST_DIR}/metrics.c
             LIBS podprof_common LABEL unit)
podprof_test(test_httpserver SOURCES ${CMAKE_CURRENT_LIST_DIR}/httpserver.c
             LIBS podprof_agent LABEL unit)
podprof_test(test_selfstats SOURCES ${CMAKE_CURRENT_LIST_DIR}/selfstats.c
             LIBS podprof_agent LABEL unit)
