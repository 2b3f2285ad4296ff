/// Why a command was refused: the HTTP status, Placement's error `code`
/// (shown from microversion 1.23) and the detail text Placement gives.
public struct Rejection: Error, Equatable, Sendable, CustomStringConvertible {
    public var status: Int
    public var code: String
    public var detail: String

    public init(_ status: Int, _ detail: String, code: String = Rejection.undefined) {
        self.status = status
        self.detail = detail
        self.code = code
    }

    public var description: String { "\(status) \(code): \(detail)" }

    public static let undefined = "placement.undefined_code"
    public static let concurrentUpdate = "placement.concurrent_update"
    public static let inventoryInUse = "placement.inventory.inuse"
    public static let duplicateName = "placement.duplicate_name"
    public static let providerInUse = "placement.resource_provider.inuse"
    public static let cannotDeleteParent = "placement.resource_provider.cannot_delete_parent"
    public static let providerNotFound = "placement.resource_provider.not_found"
}
