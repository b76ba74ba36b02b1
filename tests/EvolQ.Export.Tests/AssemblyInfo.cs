// Each comparison runs torch and ONNX Runtime on both cores; side by side they only slow each other down.
[assembly: CollectionBehavior(DisableTestParallelization = true)]
