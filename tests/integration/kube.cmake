# The fake Kubernetes API server (tests/tools/fake_kube.py) checked with kubectl and the
# official Python client.
podprof_test(test_kube_fidelity SOURCES ${CMAKE_CURRENT_LIST_DIR}/kube_fidelity.c
             LABEL integration TIMEOUT 300)
