import ArgumentParser

@main
struct PlacementLedger: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "placement-ledger",
        abstract: "An OpenStack Placement API server that keeps every change as an immutable event in LMDB.",
        subcommands: [Serve.self, Replay.self, Verify.self, Events.self, AuditCommand.self, Generate.self, PolicySample.self],
        defaultSubcommand: Serve.self)
}
