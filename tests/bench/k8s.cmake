# Kubernetes discovery: 10,000 pods listed and 10,000 watch events from the fake API
# server; podprof's time and peak RSS against kubectl and the Python client, and the
# model's bytes per pod.
add_executable(bench_k8s ${CMAKE_CURRENT_LIST_DIR}/k8s.c
               ${CMAKE_CURRENT_LIST_DIR}/../integration/k8s_fake.c)
target_include_directories(bench_k8s PRIVATE ${CMAKE_CURRENT_LIST_DIR}/../integration)
target_link_libraries(bench_k8s PRIVATE podprof_test_support podprof_k8s PkgConfig::CJSON
                      PkgConfig::CURL)
add_test(NAME bench_k8s COMMAND bench_k8s)
set_tests_properties(bench_k8s PROPERTIES LABELS bench TIMEOUT 900)
add_dependencies(bench_k8s podprof)
