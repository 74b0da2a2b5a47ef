# The cluster role at scale: 500 targets x 5 types every 15 s for 2 minutes against a
# replay server of real Go profiles; CPU per profile against gunzip+gzip of the same
# bytes, peak RSS per target, no missed scrape.
podprof_test(bench_scrape SOURCES ${CMAKE_CURRENT_LIST_DIR}/scrape.c
             LIBS podprof_pprof PkgConfig::MHD PkgConfig::CURL LABEL bench GO_PROGRAMS
             TIMEOUT 600)
