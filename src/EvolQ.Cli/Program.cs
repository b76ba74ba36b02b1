using EvolQ.Cli;

return EvolqApp.Run(args, Console.Out, Console.Error);
