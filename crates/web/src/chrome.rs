//! What the common layout needs from every page: its title, who is signed in, an optional
//! status message, and whether the page shows a failed form (its title then starts with
//! "Error:", so screen-reader users hear it first).

use crate::visitor::Visitor;

#[derive(Debug, Clone, Default)]
pub struct Chrome {
    pub title: String,
    /// The signed-in user's email, or `None` for a visitor.
    pub user_email: Option<String>,
    /// A one-line status message for the top of `main` ("Ticket listed"), read out politely.
    pub notice: Option<String>,
    /// The page re-shows a form the API refused.
    pub error: bool,
}

impl Chrome {
    pub fn new(title: impl Into<String>, visitor: &Visitor) -> Self {
        Self {
            title: title.into(),
            user_email: visitor.user.as_ref().map(|user| user.email.clone()),
            ..Self::default()
        }
    }

    /// For pages shown without knowing the visitor (error pages).
    pub fn anonymous(title: impl Into<String>) -> Self {
        Self {
            title: title.into(),
            ..Self::default()
        }
    }

    pub fn with_notice(mut self, notice: Option<String>) -> Self {
        self.notice = notice;
        self
    }

    pub fn with_error(mut self, error: bool) -> Self {
        self.error = error;
        self
    }

    /// "Sell a ticket – BoxOffice", or "Error: Sell a ticket – BoxOffice".
    pub fn page_title(&self) -> String {
        let prefix = if self.error { "Error: " } else { "" };
        format!("{prefix}{} – BoxOffice", self.title)
    }
}
