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

/// <summary>
/// Tests paced by the wall clock (a simulated audio thread): they run alone, after the parallel ones,
/// so that the rest of the suite does not starve their threads on a 2-core machine.
/// </summary>
[CollectionDefinition(nameof(RealtimeFixtureModel), DisableParallelization = true)]
public sealed class RealtimeFixtureModel : ICollectionFixture<FixtureModel>;
