extension LoginProtocol {
    /// The interface description twostepd serves on the Login socket
    /// (`org.varlink.service.GetInterfaceDescription`).
    public static let idl = """
        # The PAM module's access to the fleet store (SPEC §9). Root only.
        interface \(interface)

        # The user's record (the factor-file text of twostep-factors(5)) and
        # its version; record is null when the user has none. offline: the
        # database is unreachable and this is this host's cached copy
        # (offline=cached): only authenticator codes are accepted.
        method \(Method.fetch)(user: string) -> (record: ?string, version: int, offline: bool)

        # A record as the database has it now: null when the user has none.
        type Current (record: ?string, version: int)

        # Stores record if the user's record still has version (null: if
        # the user has none yet). stored is false when another writer got
        # there first: decide again on current, the record as it is now,
        # read under its lock in the same transaction; read it again
        # (Fetch) when current is null.
        method \(Method.store)(user: string, record: string, version: ?int) -> (stored: bool, current: ?Current)

        # Removes the record if it still has version.
        method \(Method.delete)(user: string, version: int) -> (deleted: bool)

        # Counts one code sent for user to number (E.164) if at most limit-1
        # were sent for that account, and to that number, in the last window
        # seconds (SPEC §5): admitted, or not and the time (Unix seconds)
        # from which the next may go. The count lives in the database,
        # where no user can reset it.
        method \(Method.admitSend)(user: string, number: string, limit: int, window: int) -> (admitted: bool, until: ?int)

        # The database could not be used in time, or refused.
        error \(unavailableName) (reason: string)

        """

    /// `idl`, read: each method's parameter names are what twostepd accepts
    /// in its calls. Nil only if `idl` were not a valid description (the
    /// unit tests parse it).
    public static let definition: VarlinkIDL.Interface? = try? VarlinkIDL.parse(idl)
}
