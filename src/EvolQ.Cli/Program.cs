using EvolQ.Cli;

// First, before anything loads libtorch: the allocator can only be chosen when the process starts.
NativeEnvironment.Apply(args);
return EvolqApp.Run(args, Console.Out, Console.Error);
