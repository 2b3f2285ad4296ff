extension PlacementRequest {
    /// Placement's `context.can(action, target)`: 403 with Placement's words when the policy says no.
    func authorize(_ action: String, target: [String: String]? = nil) throws {
        guard policy.allows(action, identity, target: target) else {
            throw PlacementError(403, "Policy does not allow \(action) to be performed.")
        }
    }
}
