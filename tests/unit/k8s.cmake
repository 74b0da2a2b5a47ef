# k8s/: the connection configuration (kubeconfig, in-cluster, exec plugins), the watch
# stream (line splitter, request paths, selectors, backoff), and the model (pods from
# fixtures, targets, naming, the store and its events).
foreach(t k8s_config k8s_stream k8s_model)
  podprof_test(test_${t} SOURCES ${CMAKE_CURRENT_LIST_DIR}/${t}.c
               LIBS podprof_k8s PkgConfig::CJSON PkgConfig::CURL LABEL unit)
  target_compile_definitions(test_${t} PRIVATE
    K8S_TEST_DATA="${CMAKE_CURRENT_LIST_DIR}/data/k8s")
endforeach()
