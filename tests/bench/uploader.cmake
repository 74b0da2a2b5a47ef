# The uploader's throughput against a plain libcurl loop, and its peak RSS.
podprof_test(bench_uploader SOURCES ${CMAKE_CURRENT_LIST_DIR}/uploader.c
             LIBS podprof_agent PkgConfig::MHD LABEL bench TIMEOUT 600)
