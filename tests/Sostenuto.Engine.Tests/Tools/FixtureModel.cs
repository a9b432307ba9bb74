using Sostenuto.Engine.Model;

namespace Sostenuto.Engine.Tests.Tools;

/// <summary>The untrained fixture package, loaded once for the whole test run (loading costs a second).</summary>
public sealed class FixtureModel : IDisposable
{
    public ModelPackage Package { get; } = ModelPackage.Load(RepositoryPaths.FixtureModel);
    public void Dispose() => Package.Dispose();
}

[CollectionDefinition(nameof(FixtureModel))]
public sealed class FixtureModelCollection : ICollectionFixture<FixtureModel>;
