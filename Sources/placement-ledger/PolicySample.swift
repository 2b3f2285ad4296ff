import ArgumentParser
import PlacementAPI

struct PolicySample: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "policy-sample",
        abstract: "Print the default policy rules as a policy file to start an override from.")

    @Flag(help: "Show the rules as --legacy-policy-defaults evaluates them.") var legacyPolicyDefaults = false

    func run() throws {
        print(PolicyEngine.sampleFile(legacy: legacyPolicyDefaults), terminator: "")
    }
}
