extension PlacementRequest {
    /// Placement's default policy for these endpoints: the admin or service
    /// role. (Project-scoped reader rules are for the RBAC issue.)
    func authorize(_ rule: String) throws {
        guard identity.isAdminOrService else {
            throw PlacementError(403, "Policy does not allow \(rule) to be performed.")
        }
    }
}
