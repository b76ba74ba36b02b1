namespace EvolQ.Data;

/// <summary>A data source or its input cannot be used; the message is one sentence a user can act on.</summary>
public sealed class DataSourceException : Exception
{
    /// <summary>Creates the exception with its user-facing sentence.</summary>
    public DataSourceException(string message, Exception? innerException = null)
        : base(message, innerException)
    {
    }
}
