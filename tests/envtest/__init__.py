"""A real etcd and kube-apiserver for tests (the project's envtest), and plain HTTP helpers that
work against it and against the Kubernetes test server alike."""
