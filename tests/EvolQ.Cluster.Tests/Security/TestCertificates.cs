using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace EvolQ.Cluster.Tests.Security;

/// <summary>Self-signed certificates made at test time, written as password-protected PKCS#12 files.</summary>
internal static class TestCertificates
{
    /// <summary>Writes a new self-signed certificate (ECDSA P-256, server and client authentication) and returns its path.</summary>
    public static string SelfSigned(string directory, string name, string password, DateTimeOffset? notAfter = null)
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest($"CN={name}", key, HashAlgorithmName.SHA256);
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(false, false, 0, true));
        request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.DigitalSignature, true));
        request.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension(
            [new Oid("1.3.6.1.5.5.7.3.1"), new Oid("1.3.6.1.5.5.7.3.2")], false));
        var names = new SubjectAlternativeNameBuilder();
        names.AddDnsName("localhost");
        names.AddIpAddress(System.Net.IPAddress.Loopback);
        request.CertificateExtensions.Add(names.Build());
        var now = DateTimeOffset.UtcNow;
        using var certificate = request.CreateSelfSigned(now.AddMinutes(-5), notAfter ?? now.AddDays(1));
        var path = Path.Combine(directory, name + ".pfx");
        File.WriteAllBytes(path, certificate.Export(X509ContentType.Pfx, password));
        return path;
    }

    /// <summary>The same certificate without its private key (a .pfx that holds only the public part).</summary>
    public static string PublicOnly(string pfx, string password, string directory)
    {
        using var full = X509CertificateLoader.LoadPkcs12FromFile(pfx, password);
        using var publicPart = X509CertificateLoader.LoadCertificate(full.RawData);
        var path = Path.Combine(directory, "public-only.pfx");
        File.WriteAllBytes(path, publicPart.Export(X509ContentType.Pfx, password));
        return path;
    }
}
