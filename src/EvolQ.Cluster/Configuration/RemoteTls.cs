using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Akka.Configuration;
using Akka.Event;
using Akka.Remote.Transport.DotNetty;

namespace EvolQ.Cluster.Configuration;

/// <summary>
/// TLS for Akka remoting: every node presents the cluster's certificate (a PKCS#12 file, in Kubernetes a Secret) and
/// accepts a peer only if it presents the same certificate, in both directions (mutual TLS).
/// </summary>
/// <remarks>
/// Configured by akka.remote.dot-netty.tcp.enable-ssl and ssl.certificate.path/password (EVOLQ_TLS_CERT and
/// EVOLQ_TLS_PASSWORD set them). Akka's own chain validation would refuse a self-signed certificate unless it were
/// installed as a trusted root on every machine, and with suppress-validation on it would accept any certificate at
/// all; comparing the peer's certificate with our own (whose private key the peer proves it holds in the handshake)
/// admits exactly the holders of the Secret. evolq.tls.trust = chain switches to Akka's chain validation instead, for
/// per-node certificates issued by a CA that the machines trust.
/// </remarks>
public static class RemoteTls
{
    /// <summary>The HOCON path of Akka's DotNetty TCP transport.</summary>
    public const string Transport = "akka.remote.dot-netty.tcp";

    /// <summary>Whether the configuration turns TLS on.</summary>
    public static bool Enabled(Config config) =>
        (config ?? throw new ArgumentNullException(nameof(config))).GetBoolean($"{Transport}.enable-ssl", false);

    /// <summary>The TLS setup of a node: its certificate, loaded now, and how peers are validated.</summary>
    /// <exception cref="ConfigurationException">The certificate is missing, unreadable or has no private key (one sentence).</exception>
    public static DotNettySslSetup Setup(Config config)
    {
        ArgumentNullException.ThrowIfNull(config);
        if (config.GetBoolean($"{Transport}.ssl.suppress-validation", false))
            throw new ConfigurationException(
                $"{Transport}.ssl.suppress-validation is on, which would let any certificate join: EvolQ nodes always validate their peers.");
        var certificate = Load(config.GetString($"{Transport}.ssl.certificate.path", ""), config.GetString($"{Transport}.ssl.certificate.password", ""));
        var trust = config.GetString("evolq.tls.trust", "same-certificate");
        var validator = trust switch
        {
            "same-certificate" => SameCertificate(certificate),
            "chain" => null,
            _ => throw new ConfigurationException($"evolq.tls.trust is '{trust}': use same-certificate or chain."),
        };
        return new DotNettySslSetup(certificate, suppressValidation: false, requireMutualAuthentication: true,
            validateCertificateHostname: false, customValidator: validator);
    }

    /// <summary>
    /// The configuration Akka gets once the certificate is in the setup: the file path and password blanked, so the
    /// password does not stay in the running configuration and Akka does not load the file a second time.
    /// </summary>
    public static Config WithoutCertificateSecrets(Config config) =>
        ConfigurationFactory.ParseString($"""
            {Transport}.ssl.certificate.path = ""
            {Transport}.ssl.certificate.password = ""
            """).WithFallback(config);

    /// <summary>Loads a PKCS#12 (.pfx) certificate with its private key.</summary>
    /// <exception cref="ConfigurationException">The file is missing, the password wrong, or the key absent (one sentence).</exception>
    public static X509Certificate2 Load(string path, string? password)
    {
        if (string.IsNullOrWhiteSpace(path))
            throw new ConfigurationException($"TLS is on but no certificate is given: set EVOLQ_TLS_CERT or {Transport}.ssl.certificate.path.");
        if (!File.Exists(path))
            throw new ConfigurationException($"The TLS certificate '{path}' does not exist.");
        X509Certificate2 certificate;
        try
        {
            certificate = X509CertificateLoader.LoadPkcs12FromFile(path, string.IsNullOrEmpty(password) ? null : password);
        }
        catch (CryptographicException)
        {
            throw new ConfigurationException($"The TLS certificate '{path}' is not a PKCS#12 file that opens with the password given (EVOLQ_TLS_PASSWORD).");
        }
        if (!certificate.HasPrivateKey)
        {
            certificate.Dispose();
            throw new ConfigurationException($"The TLS certificate '{path}' has no private key, which a node needs to prove it holds it.");
        }
        return certificate;
    }

    /// <summary>Accepts a peer that presents exactly <paramref name="own"/>, within its validity period.</summary>
    public static CertificateValidationCallback SameCertificate(X509Certificate2 own)
    {
        ArgumentNullException.ThrowIfNull(own);
        var expected = own.RawData;
        return (peer, _, remote, _, log) =>
        {
            if (peer is null)
            {
                log?.Warning("Refused a TLS peer at {0}: it presented no certificate.", remote);
                return false;
            }
            if (!peer.RawData.AsSpan().SequenceEqual(expected))
            {
                log?.Warning("Refused a TLS peer at {0}: it presented certificate {1} ({2}), not this cluster's {3}.",
                    remote, peer.Thumbprint, peer.Subject, own.Thumbprint);
                return false;
            }
            var now = DateTime.Now;
            if (now < peer.NotBefore || now > peer.NotAfter)
            {
                log?.Warning("Refused a TLS peer at {0}: the cluster certificate is valid only from {1:u} to {2:u}.", remote, peer.NotBefore, peer.NotAfter);
                return false;
            }
            return true;
        };
    }
}
