# `podprof upload` as a process against the fake Coroot receiver: outages with a
# restart in the middle, and misbehaving receivers.
foreach(t upload_outage upload_bad_peer)
  podprof_test(test_${t}
               SOURCES ${CMAKE_CURRENT_LIST_DIR}/${t}.c
                       ${CMAKE_CURRENT_LIST_DIR}/../unit/uploader_fake.c
               LIBS podprof_agent PkgConfig::CJSON LABEL integration TIMEOUT 300)
  target_include_directories(test_${t} PRIVATE ${CMAKE_CURRENT_LIST_DIR}/../unit)
endforeach()
