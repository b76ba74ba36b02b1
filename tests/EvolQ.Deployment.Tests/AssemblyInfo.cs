// The publish test and kubectl runs are processes of their own; on two cores they run one at a time.
[assembly: CollectionBehavior(DisableTestParallelization = true)]
