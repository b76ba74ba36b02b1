// The end-to-end tests each use both cores for torch; running them side by side only makes all of them slower.
[assembly: CollectionBehavior(DisableTestParallelization = true)]
