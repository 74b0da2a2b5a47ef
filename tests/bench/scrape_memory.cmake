# The cluster role's peak RSS in a --once round over hostile targets (a gzip bomb, an
# endless body, ...) against the scrape buffer budget.
podprof_test(bench_scrape_memory
             SOURCES ${CMAKE_CURRENT_LIST_DIR}/scrape_memory.c
                     ${CMAKE_CURRENT_LIST_DIR}/../integration/hostile_round.c
             LABEL bench GO_PROGRAMS TIMEOUT 900)
target_include_directories(bench_scrape_memory PRIVATE ${CMAKE_CURRENT_LIST_DIR}/../integration)
