"""Streamlit entry point of 渠道参谋: page config, sign-in before any page, and the pages the user's role may use."""

from advisor.runtime import pin_threads

pin_threads()

import streamlit as st  # noqa: E402

from ui import auth  # noqa: E402
from ui.i18n import localise_widgets, t  # noqa: E402
from ui.render import style_tables  # noqa: E402

st.set_page_config(page_title=t("app.name"), page_icon=":material/explore:", layout="wide")
style_tables()
localise_widgets()  # Streamlit's own words in its widgets ("Press Enter to apply") in the interface language
user = auth.require_user()  # the sign-in page until someone signs in; nothing below runs before
allowed = user.permissions
pages = [
    st.Page("ui/pages/chat.py", title=t("nav.chat"), icon=":material/chat:", url_path="chat", default=True),
    st.Page("ui/pages/plans.py", title=t("nav.plans"), icon=":material/description:", url_path="plans"),
    st.Page("ui/pages/data_center.py", title=t("nav.data"), icon=":material/database:", url_path="data"),
    st.Page("ui/pages/knowledge_base.py", title=t("nav.knowledge"), icon=":material/menu_book:", url_path="knowledge"),
]
if allowed.can_change_settings:
    pages.append(
        st.Page("ui/pages/settings.py", title=t("nav.settings"), icon=":material/settings:", url_path="settings")
    )
if allowed.can_manage_users or allowed.can_view_audit:
    pages.append(
        st.Page("ui/pages/admin.py", title=t("nav.admin"), icon=":material/admin_panel_settings:", url_path="admin")
    )
navigation = st.navigation(pages)
auth.sidebar(user)
navigation.run()
