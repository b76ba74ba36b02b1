// Actor tests start several actor systems with their own thread pools; on two cores they run one at a time.
[assembly: CollectionBehavior(DisableTestParallelization = true)]
