//! Every GraphQL document the bridge sends to Jobber, one file each in `graphql/` beside this
//! module (the file is named after its operation). [`JobberClient::execute`] takes only an
//! [`Operation`], and an `Operation` can only be made here, from those files: the folder is the
//! complete list, and `shared/tests/jobber_operations.rs` validates every file in it against
//! Jobber's public schema (`../shared/reference/jobber/schema-2025-04-16-subset.graphql`).
//!
//! [`JobberClient::execute`]: super::JobberClient::execute

/// One GraphQL document and its operation's name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Operation {
    name: &'static str,
    document: &'static str,
}

impl Operation {
    /// The operation's name (`CreateQuote`): the span name and the dry-run log's label.
    pub fn name(&self) -> &'static str {
        self.name
    }

    /// The GraphQL document as sent: the file without its leading comment (which is for the
    /// reader of the file, not for Jobber).
    pub fn document(&self) -> &'static str {
        let mut rest = self.document;
        while rest.starts_with('#') || rest.starts_with('\n') {
            rest = rest.split_once('\n').map_or("", |(_, after)| after);
        }
        rest
    }

    /// Whether it writes (a `mutation`): a dry run logs it instead of sending it.
    pub fn is_mutation(&self) -> bool {
        self.document.lines().any(|line| line.split_whitespace().next() == Some("mutation"))
    }
}

/// `graphql/NAME.graphql` as the operation `NAME`.
macro_rules! operation {
    ($const:ident = $name:literal) => {
        pub const $const: Operation =
            Operation { name: $name, document: include_str!(concat!("graphql/", $name, ".graphql")) };
    };
}

operation!(ACCOUNT = "Account");
operation!(CUSTOM_FIELDS = "CustomFields");
operation!(FIND_CLIENTS = "FindClients");
operation!(CLIENT = "Client");
operation!(CLIENT_PROPERTIES = "ClientProperties");
operation!(CLIENT_QUOTES = "ClientQuotes");
operation!(RECENT_CLIENT_QUOTES = "RecentClientQuotes");
operation!(QUOTE = "Quote");
operation!(QUOTE_BY_NUMBER = "QuoteByNumber");
operation!(QUOTE_LINES = "QuoteLines");
operation!(CREATE_CLIENT = "CreateClient");
operation!(CREATE_PROPERTY = "CreateProperty");
operation!(CREATE_QUOTE = "CreateQuote");
operation!(ADD_LINES = "AddLines");
operation!(EDIT_LINES = "EditLines");
operation!(DELETE_LINES = "DeleteLines");
operation!(DISCONNECT = "Disconnect");
operation!(JOB = "Job");
operation!(JOB_BY_NUMBER = "JobByNumber");
operation!(JOB_LINES = "JobLines");
operation!(ADD_JOB_LINES = "AddJobLines");
operation!(DELETE_JOB_LINES = "DeleteJobLines");

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_file_holds_the_operation_it_is_named_after() {
        for op in [CREATE_QUOTE, CLIENT, DISCONNECT, ACCOUNT] {
            let declared = op
                .document()
                .lines()
                .map(|l| l.split_whitespace().collect::<Vec<_>>())
                .find(|words| matches!(words.first(), Some(&"query") | Some(&"mutation")))
                .expect("an operation");
            assert!(declared[1].starts_with(op.name()), "{}: {declared:?}", op.name());
        }
        assert!(
            CREATE_QUOTE.document().starts_with("mutation")
                && CREATE_QUOTE.document().contains("CreateQuote(")
        );
        assert!(CREATE_QUOTE.is_mutation() && DISCONNECT.is_mutation());
        assert!(!CLIENT.is_mutation() && !ACCOUNT.is_mutation());
    }
}
