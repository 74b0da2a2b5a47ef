# scraper/ unit tests: the schedule, the type list and URLs (pure functions, through the
# library's internal header), and the library against a local libmicrohttpd server
# (error classification, deltas, godeltaprof, target updates, credentials, bounds).
podprof_test(test_scraper SOURCES ${CMAKE_CURRENT_LIST_DIR}/scraper.c
             LIBS podprof_scraper LABEL unit)
podprof_test(test_scraper_fetch SOURCES ${CMAKE_CURRENT_LIST_DIR}/scraper_fetch.c
             LIBS podprof_scraper PkgConfig::MHD PkgConfig::CJSON PkgConfig::CURL PkgConfig::ZLIB
             LABEL unit TIMEOUT 120)
