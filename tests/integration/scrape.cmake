# The cluster role's scraper as a process: real Go services built with every installed
# toolchain (tests/go/pprofsrv) and hostile servers (tests/tools/hostile_pprof.py),
# with the fake Coroot receiver (tests/tools/fake_coroot.py).
foreach(t scrape_go scrape_hostile)
  podprof_test(test_${t}
               SOURCES ${CMAKE_CURRENT_LIST_DIR}/${t}.c
                       ${CMAKE_CURRENT_LIST_DIR}/hostile_round.c
                       ${CMAKE_CURRENT_LIST_DIR}/../unit/uploader_fake.c
               LIBS podprof_agent PkgConfig::CJSON LABEL integration GO_PROGRAMS TIMEOUT 300)
  target_include_directories(test_${t} PRIVATE ${CMAKE_CURRENT_LIST_DIR}/../unit)
endforeach()
# Static targets: --target and the file_sd targets file as it changes.
podprof_test(test_scrape_targets SOURCES ${CMAKE_CURRENT_LIST_DIR}/scrape_targets.c
             LIBS PkgConfig::CJSON LABEL integration TIMEOUT 120)
# PROFILES_SCRAPE_INTERVAL from 1 s to 15 s through the environment: CPU profiles fit.
podprof_test(test_scrape_intervals
             SOURCES ${CMAKE_CURRENT_LIST_DIR}/scrape_intervals.c
                     ${CMAKE_CURRENT_LIST_DIR}/k8s_fake.c
             LIBS podprof_k8s PkgConfig::CJSON PkgConfig::CURL LABEL integration GO_PROGRAMS
             TIMEOUT 180)
# The memory of a round over hostile targets against the scrape buffer budget.
podprof_test(test_scrape_memory
             SOURCES ${CMAKE_CURRENT_LIST_DIR}/scrape_memory.c
                     ${CMAKE_CURRENT_LIST_DIR}/hostile_round.c
             LABEL integration GO_PROGRAMS TIMEOUT 300)
