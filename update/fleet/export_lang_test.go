package fleet

// PageMessages gives the external tests the pages' catalog.
var PageMessages = pageMessages
