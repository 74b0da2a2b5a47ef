# The uploader against the fake Coroot receiver (tests/tools/fake_coroot.py).
podprof_test(test_uploader
             SOURCES ${CMAKE_CURRENT_LIST_DIR}/uploader.c ${CMAKE_CURRENT_LIST_DIR}/uploader_fake.c
             LIBS podprof_agent PkgConfig::CJSON LABEL unit TIMEOUT 180)
podprof_test(test_uploader_spool
             SOURCES ${CMAKE_CURRENT_LIST_DIR}/uploader_spool.c
                     ${CMAKE_CURRENT_LIST_DIR}/uploader_fake.c
             LIBS podprof_agent PkgConfig::CJSON LABEL unit TIMEOUT 180)
