using EvolQ.Cli;

// First, before anything loads libtorch: the allocator and the instruction-set cap can only be chosen when the process
// starts.
try
{
    NativeEnvironment.Apply(args);
}
catch (UserInputException exception)
{
    Console.Error.WriteLine($"evolq: {exception.Message}");
    return EvolqApp.UserErrorExitCode;
}
return EvolqApp.Run(args, Console.Out, Console.Error);
